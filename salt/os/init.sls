include:
  - transport.wipe
  - .packages
  - .swap
  - .kernel
  - .hostname
  - .hosts
  - .time
