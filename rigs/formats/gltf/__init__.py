"""glTF 2.0 containers (GLB / .gltf): buffers, accessors, images, the node tree."""
