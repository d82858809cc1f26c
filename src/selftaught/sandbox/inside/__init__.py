"""Code that runs *inside* the sandbox (the zygote and its children).

Everything in this package is standalone: it imports only the standard library and numpy, never
`selftaught`, because the rest of the package is not visible inside the sandbox. The host may import
these modules too (e.g. the wire format), so there is one implementation of each shared piece.
"""
