"""The bus on Apache Kafka (aiokafka).

`bus`: `KafkaBus` (the producer, one consumer per subscription); `batches`: one closed batch
per partition; `consumer`: a consumer-group member (`KafkaSubscription`) with `rebalance`;
`topics`: topic creation; `common`: names, keys and client options shared by all of them.
"""
