print("qbench")
