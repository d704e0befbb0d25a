"""The kfs API server: REST over etcd."""
