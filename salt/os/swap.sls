{#- kubelet refuses to run with swap on: off now, and off after a reboot. #}

os-swap-cmd-run-swapoff:
  cmd.run:
    - name: swapoff -a
    - onlyif: test "$(wc -l < /proc/swaps)" -gt 1

os-swap-file-replace-fstab:
  file.replace:
    - name: /etc/fstab
    - pattern: '^([^#\s][^\n]*\sswap\s[^\n]*)$'
    - repl: '# \1'
    - flags: ['MULTILINE']
    - ignore_if_missing: True
