"""The model catalog: its model (sources, facts, deployments, quality evidence), loading and
merging catalog files, and how old its facts are."""
