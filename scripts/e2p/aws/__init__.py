"""AWS resource helpers the operator commands share: sessions, stacks, stack sets, queues, the code bucket."""
