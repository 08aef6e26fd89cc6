DROP TABLE IF EXISTS hub_gateway_events;
