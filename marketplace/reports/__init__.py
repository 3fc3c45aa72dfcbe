"""Reports of things people wrote (messages now, discussion posts later), handled by admins.

A report keeps a snapshot of what was reported (its text, its author, a link to where it was
said), so an admin sees exactly what the reporter saw even if it changes later. Features ask
``has_open_report`` to let an admin into a private place (a conversation) while handling one.
"""
