"""Form specs: an agency's .xlsx template as a declarative, versioned description of a form."""
