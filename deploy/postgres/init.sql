-- Runs once, when the compose Postgres volume is first created (as the owner, `emporium`).
-- The services log in as emporium_app, a member of emporium_service: the role the migrations
-- grant the services' privileges to (read and write the services' tables, append-only audit
-- log, no DDL). `emporium migrate` creates emporium_service itself when it is missing.
CREATE ROLE emporium_service NOLOGIN;
CREATE ROLE emporium_app LOGIN PASSWORD 'emporium_app' IN ROLE emporium_service;
