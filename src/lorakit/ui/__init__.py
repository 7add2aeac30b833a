"""The local web UI: review data, see runs, compare adapters (`lorakit ui`)."""
