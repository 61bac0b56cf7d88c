"""Engine adapters behind one small protocol, looked up in a registry."""
