# make sandbox   boot the local sandbox hosts and converge them with salt-ssh
# make test      run every test (unit, functional, sandbox integration)
.PHONY: sandbox test down

sandbox:
	tools/sandbox-install

test:
	tools/test

down:
	$$(tools/setup)/saltsphere sandbox down
