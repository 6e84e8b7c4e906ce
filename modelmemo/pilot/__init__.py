"""`modelmemo pilot`: the memo's pick and challengers measured on a team's own examples."""
