"""Built-in sinks: each is a callable ``sink(event, msg_dict)`` in a module of its own."""
