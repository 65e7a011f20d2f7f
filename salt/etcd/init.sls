include:
  - transport.wipe
  - .package
  - .config
  - .service
  - .health
