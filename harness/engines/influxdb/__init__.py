"""The InfluxDB adapter (influxdb-client, v2 API): Flux queries and points built apart in statements.py."""
