"""The pure core: specs, graph, scheduler, events and the Flow API. Imports no IPython."""
