"""When each source is patrolled: mandated daily windows and the APScheduler trigger over them."""
