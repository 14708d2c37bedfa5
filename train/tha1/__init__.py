"""THA1's system: its three networks (`networks`), their stages for the shared loop
(`trainer`), evaluation of the whole system (`evaluate`) and the animated demo (`animate`)."""
