"""`python -m meridian.edge_agent`: the same daemon as the `meridian-edge-agent` script."""

from meridian.edge_agent import daemon

if __name__ == "__main__":
    daemon.main()
