"""Running the product on one machine: start and supervise the local stack, fill the
database with demo data. Used by ``hotline run``, ``hotline tickets seed``, the tests and the
benches; nothing in production imports it."""
