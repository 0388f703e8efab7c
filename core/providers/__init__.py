"""Music, embedding and naming providers, chosen by name through ``registry``."""
