-- The hub of docker-compose's "hub" profile keeps its own database beside the gateway's.
CREATE DATABASE hub;
