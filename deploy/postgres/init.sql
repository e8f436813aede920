-- Runs once, when the compose Postgres volume is first created (as the owner, `emporium`).
-- `emporium migrate` creates one NOLOGIN role per service (emporium_orders, emporium_inventory,
-- ..., emporium_api), each allowed only what that process owns, and makes each a member of
-- emporium_service. The services log in as emporium_app, a member of emporium_service, and each
-- process assumes its own role on every connection. (Stricter: one login per deployment, a
-- member of its service's role only.) `emporium migrate` creates emporium_service itself when
-- it is missing.
CREATE ROLE emporium_service NOLOGIN;
CREATE ROLE emporium_app LOGIN PASSWORD 'emporium_app' IN ROLE emporium_service;
