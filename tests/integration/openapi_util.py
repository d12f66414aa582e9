"""Reading the OpenAPI document: its nodes and its local $refs."""


def resolve(doc, ref):
    """The node a local $ref ("#/a/b") names in doc; fails on a dangling one."""
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def walk(node, path=""):
    """(JSON pointer, object) for every object in node, node included."""
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from walk(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}/{i}")
