"""Judge assignment: a process manager in review's workers that gives each entry passing formal review its judges."""
