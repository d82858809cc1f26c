"""Reading programs out of model replies: one stdlib-only leaf shared by both sides of the sandbox.

The rules live in `reply_code`. The host's LM layer (the offline model), the safety experiment and the
`helpers` module that improvers import inside the sandbox all read replies with them, so every layer
agrees on what a reply's program is. The sandbox mounts this directory read-only beside `inside/` (see
`sandbox/launch.py`), which is why it imports nothing, not even from `selftaught`.
"""
