pytest_plugins = ["tcplab.pkt.pytest_plugin", "pytester"]
