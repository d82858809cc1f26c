# fake: value v=0.3
def algorithm(i):
    return 0.3
