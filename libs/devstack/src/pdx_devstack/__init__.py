"""The local stack: embedded broker (Tansu) and store (SecantusDB), the sandboxes and the services, for the local
run and the tests. Never used in production."""
