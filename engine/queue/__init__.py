"""The `rabbitmq` queue backend: RabbitMQ carries work notices, the store stays the truth.

A notice is a delivery id on its destination's durable queue, published with confirms
before the source acknowledges the message. Workers consume notices, claim those
deliveries in the store, send, record the outcome, and only then ack the notice (a worker
that dies leaves its notices to be redelivered to another). A delivery to try again later
gets a new notice on a wait queue whose TTL dead-letters it back to the destination's
queue. Losing the broker's copy loses no message: workers sweep the store for deliveries
long overdue, and `kanal queues rebuild` publishes a notice for every open delivery.
"""
