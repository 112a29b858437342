"""The application layer: what the helpline does, as plain functions (or small classes) that
take the services explicitly and return plain data. The web's blueprints parse a request, call
one action and render; the scheduler and the commands call the same actions. Beneath: core,
content, config, store, twilio, services, ops; above: jobs, web, cli."""
