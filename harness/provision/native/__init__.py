"""Native engines: servers started on 127.0.0.1 from local binaries or built launchers."""
