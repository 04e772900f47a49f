-- One database per service: each service owns its tables and its migrations.
CREATE DATABASE dispatch_intake;
CREATE DATABASE dispatch_triage;
CREATE DATABASE dispatch_routing;
