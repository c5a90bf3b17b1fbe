"""CDS Hooks services (order-sign, order-select) in the Da Vinci CRD style.

The registry describes the services as data; `services.handle_call` is the thin
parse -> prefetch -> map -> decide -> store -> render pipeline behind `POST /cds-services/{id}`.
"""
