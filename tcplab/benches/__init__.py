"""Benchmarks that start labs and dashboards (``tcplab bench``): they may import any
package, so the dashboard and the lab never have to import a backend to be measured."""
