include:
  - .packages
  - .swap
  - .kernel
  - .hostname
  - .hosts
  - .time
