"""What the Makefile runs beside the Pulumi CLI: the renewal (`make renew`) and `make up`'s notices."""
