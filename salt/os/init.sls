include:
  - .hosts
