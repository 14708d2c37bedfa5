"""The annotation page's front pictures: one Blender worker process (`blender_worker`, the only
module here that imports bpy), the queue and pixel mapping around it (`renders`) and what a
picture is and where it is cached (`cache`)."""
