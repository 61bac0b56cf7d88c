"""InfluxDB launcher and its config template (influxdb.conf.tmpl) shipped as package data."""
