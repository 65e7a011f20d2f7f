include:
  - transport.wipe
  - .package
  - .config
  - .registries
  - .service
  - .health
