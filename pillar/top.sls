base:
  '*':
    - saltsphere.defaults
