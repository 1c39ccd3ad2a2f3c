"""Reports: pictures of the marts, rendered after every refresh."""
