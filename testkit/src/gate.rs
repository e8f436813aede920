//! A TCP gate in front of a server: open, it forwards every connection; closed, it cuts the
//! connections it forwards and refuses new ones. To a client behind it, the server is down,
//! while everyone else still reaches it (the tests' Temporal server is shared).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A gate to one server, open until [`TcpGate::close`].
pub struct TcpGate {
    address: String,
    open: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
}

impl TcpGate {
    /// A gate on a free local port to `target` (`host:port`), open; it forwards until the
    /// test process ends.
    pub async fn to(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a port for the gate");
        let address = listener
            .local_addr()
            .expect("the gate's address")
            .to_string();
        let open = Arc::new(AtomicBool::new(true));
        let (cuts, _) = watch::channel(0);
        tokio::spawn(forward(
            listener,
            target.to_owned(),
            open.clone(),
            cuts.clone(),
        ));
        Self {
            address,
            open,
            cuts,
        }
    }

    /// `host:port` to connect to instead of the server.
    #[must_use]
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Cuts every forwarded connection and refuses new ones.
    pub fn close(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.cuts.send_modify(|cut| *cut += 1);
    }

    /// Forwards again.
    pub fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

async fn forward(
    listener: TcpListener,
    target: String,
    open: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
) {
    while let Ok((mut client, _)) = listener.accept().await {
        if !open.load(Ordering::SeqCst) {
            continue; // dropped: the connection is refused
        }
        let target = target.clone();
        let mut cut = cuts.subscribe();
        tokio::spawn(async move {
            let Ok(mut server) = TcpStream::connect(&target).await else {
                return;
            };
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = cut.changed() => {}
            }
        });
    }
}
