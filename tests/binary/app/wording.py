"""A helper module beside the graph, found through "dependencies": ["."]."""


def exclaim(text: str) -> str:
    return text + "!"
