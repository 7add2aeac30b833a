"""Types and helpers every stage of the loop stands on."""
