"""Generation jobs: the queue (enqueue, claims, leases, limits), the fleet of workers, and running one job."""
