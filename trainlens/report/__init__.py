"""The postmortem report: a language-neutral model of what to say (built from an Analysis), which
the Jinja2 templates in ``templates/`` turn into Chinese or English Markdown."""
