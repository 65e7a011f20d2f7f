include:
  - .package
  - .config
  - .service
  - .health
